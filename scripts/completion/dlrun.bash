# bash completion for dlrun: commands, each command's flags, choices of --split/--format/--strategy,
# YAML configs for the config argument, run directories for report/--resume, files for the rest.
#   source scripts/completion/dlrun.bash      (or copy it to /usr/share/bash-completion/completions/dlrun)
_dlrun() {
  local cur prev command
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="train cv eval predict search generate prune quantize summary check report"
  local common="--set --threads --quiet --help"
  if ((COMP_CWORD == 1)); then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi
  command=${COMP_WORDS[1]}
  case $prev in
    --split) COMPREPLY=($(compgen -W "test validation train" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "idx csv npy" -- "$cur")); return ;;
    --strategy) COMPREPLY=($(compgen -W "grid random bayes" -- "$cur")); return ;;
    --scope) COMPREPLY=($(compgen -W "global layer" -- "$cur")); return ;;
    --threads|--folds|--jobs|--trials|--outer-folds|--lease|--set|--prompt|--length|--temperature|--top-k|--seed|--sparsity|--finetune-epochs) return ;;
    --checkpoint|--weights) COMPREPLY=($(compgen -f -X '!*.safetensors' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --resume|--out|--journal) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --input|--output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  local flags
  case $command in
    train) flags="$common --out --jsonl --resume --weights --report" ;;
    cv) flags="$common --out --jsonl --folds --jobs" ;;
    eval) flags="$common --checkpoint --split" ;;
    predict) flags="$common --checkpoint --input --format --output --raw" ;;
    search) flags="$common --out --jsonl --strategy --trials --jobs --resume --refit --outer-folds --journal --worker --lease" ;;
    generate) flags="$common --checkpoint --prompt --length --temperature --top-k --seed" ;;
    prune) flags="$common --out --jsonl --checkpoint --sparsity --scope --finetune-epochs" ;;
    quantize) flags="$common --checkpoint --calibration-batches --out" ;;
    summary) flags="$common --json" ;;
    check) flags="$common" ;;
    report) flags="--no-eval --threads --quiet --help" ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ $command == report ]]; then
    COMPREPLY=($(compgen -d -- "$cur"))
  else
    # The config: YAML files and folders to descend into.
    COMPREPLY=($(compgen -f -X '!*.yaml' -- "$cur") $(compgen -f -X '!*.yml' -- "$cur") $(compgen -d -- "$cur"))
  fi
}
complete -o filenames -F _dlrun dlrun
