#!/usr/bin/env python3
"""Writes data/hourly_load.csv, the synthetic time series of configs/timeseries.yaml: 120 days of
hourly rows `hour,weekday,temperature,load` (2880 rows; temperature in C, load in GW),
deterministic for its seed.

  scripts/data/make_hourly_load.py data/hourly_load.csv

The series imitates an electricity demand: temperature follows a seasonal and a daily cycle plus
AR(1) noise; load follows a daily profile (morning and evening peaks), is lower at weekends, rises
with heating (below 15 C) and cooling (above 22 C) demand, plus AR(1) noise. It prints the mean
absolute error of two naive forecasts of the next hour's load on the targets of the validation
split of configs/timeseries.yaml (the last 20% of its windows): persistence (load stays as it is)
and seasonal persistence (load as 24 hours before), the figures a model must beat.
"""
import math
import random
import sys

DAYS, SEED = 120, 2024


def daily_profile(hour: int) -> float:
    """Demand shape over the day in [0, 1]: night trough, morning and evening peaks."""
    morning = math.exp(-((hour - 8) ** 2) / 8.0)
    evening = 1.2 * math.exp(-((hour - 19) ** 2) / 6.0)
    return min(1.0, 0.15 + 0.5 * morning + 0.6 * evening)


def main(output: str) -> None:
    rng = random.Random(SEED)
    rows = []
    temperature_noise = load_noise = 0.0
    for t in range(DAYS * 24):
        day, hour = divmod(t, 24)
        weekday = day % 7  # 0 = Monday
        temperature_noise = 0.95 * temperature_noise + rng.gauss(0.0, 0.5)
        temperature = (10.0 + 8.0 * math.sin(2 * math.pi * (day - 30) / 365.0)
                       + 4.0 * math.sin(2 * math.pi * (hour - 9) / 24.0) + temperature_noise)
        load_noise = 0.8 * load_noise + rng.gauss(0.0, 1.0)
        weekend = 0.75 if weekday >= 5 else 1.0
        # In GW: targets of order 1 suit a network's output layer (dlrun does not rescale targets).
        load = (40.0 + 30.0 * weekend * daily_profile(hour) + 1.0 * max(0.0, 15.0 - temperature)
                + 1.5 * max(0.0, temperature - 22.0) + load_noise) / 10.0
        rows.append((hour, weekday, temperature, load))

    with open(output, "w", newline="\n") as out:
        out.write("hour,weekday,temperature,load\n")
        for hour, weekday, temperature, load in rows:
            out.write(f"{hour},{weekday},{temperature:.2f},{load:.3f}\n")

    loads = [round(r[3], 3) for r in rows]
    # The targets of configs/timeseries.yaml's validation windows (window 24, horizon 1, split 0.2):
    # the last round(0.2 * windows) rows.
    windows = len(loads) - 24
    first = len(loads) - int(0.2 * windows + 0.5)
    persistence = [abs(loads[t] - loads[t - 1]) for t in range(first, len(loads))]
    seasonal = [abs(loads[t] - loads[t - 24]) for t in range(first, len(loads))]
    print(f"{output}: {len(rows)} rows; next-hour MAE on the validation targets: persistence "
          f"{sum(persistence) / len(persistence):.3f}, 24 h seasonal persistence "
          f"{sum(seasonal) / len(seasonal):.3f} ({len(persistence)} targets)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hourly_load.py OUTPUT")
    main(sys.argv[1])
