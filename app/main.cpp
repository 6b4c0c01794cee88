// dlrun's entry point: CLI11 wiring, and the one place that turns errors into messages and exit
// codes (DESIGN.md §2): 0 ok, 1 internal, 2 usage/config, 3 data, 4 diverged, 5 output, 130 interrupted.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>

#include "app/commands.hpp"
#include "app/console.hpp"
#include "core/errors.hpp"
#include "core/float_mode.hpp"
#include "core/version.hpp"
#include "dist/communicator.hpp"

namespace {

// The error line and exit code. Under mpirun, one rank failing would leave the others waiting in a
// collective forever: the line names the rank, and MPI_Abort ends every rank with the code.
int fail(const std::string& message, int exit_code) {
  dlrun::Communicator& world = dlrun::world();
  if (!world.distributed()) {
    dlrun::app::print_error(message);
    return exit_code;
  }
  dlrun::app::print_error("rank " + std::to_string(world.rank()) + ": " + message);
  world.abort(exit_code);
  return exit_code;
}

void add_common(CLI::App* command, dlrun::app::CommonOptions& common, bool trains) {
  command->add_option("config", common.config, "YAML config file")->required();
  command->add_option("--set", common.sets, "override a config value: PATH=VALUE (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  command
      ->add_option("--threads", common.threads,
                   "threads for dlrun and OpenBLAS (default: config, else all cores)")
      ->check(CLI::Range(1, 1024));
  command->add_flag("--quiet", common.quiet, "only warnings and errors on stderr");
  if (trains) {
    command->add_option("--out", common.out, "the run directory to write (default: <output>/<name>-<time>)");
    command->add_flag("--jsonl", common.jsonl, "print one JSON line per epoch on stdout");
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A file over the size limit (RLIMIT_FSIZE, `ulimit -f`) must be an error like a full disk, not
  // a kill: with SIGXFSZ ignored, write(2) fails with EFBIG, reported with exit 5 while the
  // previous checkpoint stays intact.
  std::signal(SIGXFSZ, SIG_IGN);
  // Denormal floats cost a microcode assist per operation (core/float_mode.hpp); dlrun's threads
  // take this thread's mode.
  dlrun::flush_denormals_to_zero();
  CLI::App app{"dlrun: train neural networks from YAML configs"};
  app.require_subcommand(0, 1);  // none: the list of commands (below)
  app.footer(
      "Examples:\n  dlrun train configs/quickstart.yaml\n  dlrun report runs/quickstart-20260101-120000\n"
      "Run 'dlrun COMMAND --help' for a command's options; docs/cli.md and docs/config.md describe them.");
  app.set_version_flag("--version", dlrun::version_string());

  dlrun::app::CommonOptions common;
  dlrun::app::TrainOptions train_options;
  dlrun::app::EvalOptions eval_options;
  dlrun::app::CvCommandOptions cv_options;
  dlrun::app::PredictOptions predict_options;
  dlrun::app::GenerateOptions generate_options;

  CLI::App* train = app.add_subcommand("train", "train a model");
  train->footer("Example:\n  dlrun train configs/quickstart.yaml --set train.epochs=10 --report");
  add_common(train, common, true);
  train->add_option("--resume", train_options.resume,
                    "continue an interrupted run (run directory or checkpoint)");
  train->add_option("--weights", train_options.weights, "initialise parameters from a checkpoint");
  train->add_flag("--report", train_options.report, "write report.html in the run directory at the end");

  CLI::App* cv = app.add_subcommand("cv", "cross-validate a config over K folds");
  cv->footer("Example:\n  dlrun cv configs/digits_cv.yaml --folds 5 --jobs 2");
  add_common(cv, common, true);
  cv->add_option("--folds", cv_options.folds, "number of folds (overrides cv.folds)");
  cv->add_option("--jobs", cv_options.jobs,
                 "folds trained at once, dividing the threads among them (same results)")
      ->check(CLI::Range(1, 1024));

  CLI::App* eval = app.add_subcommand("eval", "evaluate a checkpoint on a data split");
  eval->footer(
      "Example:\n  dlrun eval configs/quickstart.yaml --checkpoint runs/qs/checkpoints/best.safetensors");
  add_common(eval, common, false);
  eval->add_option("--checkpoint", eval_options.checkpoint, "checkpoint file")->required();
  eval->add_option("--split", eval_options.split, "test | validation | train")
      ->check(CLI::IsMember({"test", "validation", "train"}));

  CLI::App* predict = app.add_subcommand("predict", "predict classes or outputs for new inputs");
  predict->footer(
      "Example:\n  dlrun predict configs/quickstart.yaml --checkpoint runs/qs/checkpoints/best.safetensors "
      "--input x.npy --output p.npy");
  add_common(predict, common, false);
  predict->add_option("--checkpoint", predict_options.checkpoint, "checkpoint file")->required();
  predict->add_option("--input", predict_options.input, "input file (IDX, CSV or NPY)")->required();
  predict->add_option("--format", predict_options.format, "idx | csv | npy (default: from the file name)")
      ->check(CLI::IsMember({"idx", "csv", "npy"}));
  predict->add_option("--output", predict_options.output,
                      "file to write: CSV, or NPY float32 when it ends in .npy (default: CSV on stdout)");
  predict->add_flag("--raw", predict_options.raw, "write the final layer's raw outputs");

  dlrun::app::SearchCommandOptions search_options;
  CLI::App* search = app.add_subcommand("search", "hyperparameter search: grid, random or bayes (TPE)");
  search->footer("Example:\n  dlrun search configs/digits_cv.yaml --strategy bayes --trials 20 --jobs 2");
  add_common(search, common, true);
  search
      ->add_option("--strategy", search_options.strategy, "grid | random | bayes (overrides search.strategy)")
      ->check(CLI::IsMember({"grid", "random", "bayes"}));
  search->add_option("--trials", search_options.trials, "trials to run (overrides search.trials)")
      ->check(CLI::Range(1LL, 1000000LL));
  search->add_option("--jobs", search_options.jobs, "trials trained at once, dividing the threads among them")
      ->check(CLI::Range(1, 256));
  search->add_option("--resume", search_options.resume, "continue the search in this directory");
  search->add_flag("--refit", search_options.refit, "retrain the best on train + validation, report test");
  search
      ->add_option("--outer-folds", search_options.outer_folds,
                   "nested cross-validation: outer folds around the whole search")
      ->check(CLI::Range(2, 100));
  CLI::Option* journal =
      search->add_option("--journal", search_options.journal,
                         "a search shared by workers in this folder: alone, creates it; with --worker, takes "
                         "trials from it");
  journal->excludes("--resume")->excludes("--out");
  search
      ->add_flag("--worker", search_options.worker, "train trials of the --journal search until none is left")
      ->needs(journal);
  search
      ->add_option("--lease", search_options.lease,
                   "seconds after which a silent worker's trial goes to another (default 60)")
      ->check(CLI::PositiveNumber);

  CLI::App* generate = app.add_subcommand("generate", "sample text from a character language model");
  generate->footer(
      "Example:\n  dlrun generate configs/char_lstm.yaml --checkpoint runs/char/checkpoints/best.safetensors "
      "--prompt \"The \"");
  add_common(generate, common, false);
  generate->add_option("--checkpoint", generate_options.checkpoint, "checkpoint file")->required();
  generate->add_option("--prompt", generate_options.prompt, "the text to continue")->required();
  generate->add_option("--length", generate_options.length, "characters to generate (default 200)");
  generate->add_option("--temperature", generate_options.temperature, "softmax temperature > 0 (default 1)");
  generate->add_option("--top-k", generate_options.top_k, "sample among the K likeliest characters (0: all)");
  generate->add_option("--seed", generate_options.seed, "sampling seed (default: the config's seed)");

  dlrun::app::PruneOptions prune_options;
  CLI::App* prune = app.add_subcommand("prune", "magnitude-prune a trained model and fine-tune it");
  prune->footer(
      "Example:\n  dlrun prune configs/quickstart.yaml --checkpoint runs/qs/checkpoints/best.safetensors "
      "--sparsity 0.8");
  add_common(prune, common, true);
  prune->add_option("--checkpoint", prune_options.checkpoint, "the trained model's checkpoint")->required();
  prune->add_option("--sparsity", prune_options.sparsity, "fraction of weights pruned, in [0, 1)")
      ->required();
  prune->add_option("--scope", prune_options.scope, "global (one threshold) | layer (each layer alike)")
      ->check(CLI::IsMember({"global", "layer"}));
  prune->add_option("--finetune-epochs", prune_options.finetune_epochs, "epochs of fine-tuning (default 2)")
      ->check(CLI::Range(0, 1000000));

  dlrun::app::QuantizeOptions quantize_options;
  CLI::App* quantize = app.add_subcommand("quantize", "post-training int8 quantization of a trained model");
  quantize->footer(
      "Example:\n  dlrun quantize configs/seed_cnn.yaml --checkpoint runs/cnn/checkpoints/best.safetensors");
  add_common(quantize, common, false);
  quantize->add_option("--checkpoint", quantize_options.checkpoint, "the trained model's checkpoint")
      ->required();
  quantize
      ->add_option("--calibration-batches", quantize_options.calibration_batches,
                   "training batches that calibrate the activation ranges (default 32)")
      ->check(CLI::Range(1, 1000000));
  quantize->add_option("--out", quantize_options.out,
                       "the int8 model to write (default: next to the checkpoint, NAME.int8.safetensors)");

  CLI::App* summary = app.add_subcommand("summary", "print layers, output shapes, parameters and FLOPs");
  summary->footer("Example:\n  dlrun summary configs/lenet5.yaml --json");
  add_common(summary, common, false);
  bool summary_json = false;
  summary->add_flag("--json", summary_json, "print the summary as one JSON object");
  CLI::App* check = app.add_subcommand("check", "validate a config and print it resolved");
  check->footer("Example:\n  dlrun check configs/quickstart.yaml --set optimizer.lr=0.01");
  add_common(check, common, false);

  dlrun::app::ReportOptions report_options;
  CLI::App* report =
      app.add_subcommand("report", "write report.html (charts) for a run, cv or search directory");
  report->footer("Example:\n  dlrun report runs/qs");
  report->add_option("directory", report_options.directory, "run, cv or search directory")->required();
  report->add_flag("--no-eval", report_options.no_eval,
                   "skip evaluating the best checkpoint (loads no data)");
  report->add_option("--threads", report_options.threads, "threads for the evaluation")
      ->check(CLI::Range(1, 1024));
  report->add_flag("--quiet", common.quiet, "only warnings and errors on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see dlrun --help)\n", e.what());
    return 2;
  }

  if (app.get_subcommands().empty()) {  // plain `dlrun`: what it can do
    std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }

  try {
    dlrun::app::setup_console(common.quiet);
    if (!dlrun::world().is_root()) dlrun::app::silence_console_but_errors();
    if (*train) return dlrun::app::run_train(common, train_options);
    if (*cv) return dlrun::app::run_cv(common, cv_options);
    if (*search) return dlrun::app::run_search(common, search_options);
    if (*eval) return dlrun::app::run_eval(common, eval_options);
    if (*predict) return dlrun::app::run_predict(common, predict_options);
    if (*generate) return dlrun::app::run_generate(common, generate_options);
    if (*prune) return dlrun::app::run_prune(common, prune_options);
    if (*quantize) return dlrun::app::run_quantize(common, quantize_options);
    if (*summary) return dlrun::app::run_summary(common, summary_json);
    if (*report) return dlrun::app::run_report(report_options);
    if (*check) return dlrun::app::run_check(common);
  } catch (const dlrun::DlrunError& error) {
    return fail(error.what(), error.exit_code());
  } catch (const std::bad_alloc&) {
    // Readers bound every allocation by the file's size (docs/security.md); what is left is a
    // model, batch or dataset larger than the memory.
    return fail("out of memory: an allocation failed (is the model, batch or dataset too large?)", 1);
  } catch (const std::exception& error) {
    return fail(std::string("internal error: ") + error.what(), 1);
  }
  return 0;
}
