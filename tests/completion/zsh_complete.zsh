#!/usr/bin/env zsh
# Prints the completions zsh offers for each command line given, with the completion functions of
# the folder DIR (scripts/completion) first in fpath:
#   zsh -f zsh_complete.zsh DIR 'dlrun tr' 'dlrun train --'
# prints "== dlrun tr", then one match per line, for each line in turn.
# An interactive zsh runs in a pseudo-terminal (zsh/zpty); each line is typed followed by TAB, and
# compadd is wrapped to print the matches it adds (after Valodim's capture.zsh). Exits 2 when a
# completion does not finish within 20 seconds.
emulate -L zsh
zmodload zsh/zpty || exit 3
local dir=$1
shift
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D; cd ${(q)PWD}"
zpty -w z 'bindkey "^I" complete-word; bindkey "^U" kill-whole-line; zstyle ":completion:*" insert-tab false'
# The markers are split in the commands typed, so that the terminal's echo of them never matches.
zpty -w z '_capture_end() { print -r -- "<<e""nd>>" }'
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a hits; builtin compadd -A hits "$@"
  local hit; for hit in $hits; do print -r -- "<<ma""tch>>$hit"; done
  builtin compadd "$@"
}'
local line out deadline
for line in "$@"; do
  print -r -- "== $line"
  # comppostfuncs runs once after the next completion, then empties itself.
  zpty -w z 'comppostfuncs=( _capture_end )'
  zpty -w -n z "$line"$'\t'
  deadline=$(( SECONDS + 20 ))
  while :; do
    (( SECONDS < deadline )) || { zpty -d z; exit 2; }
    if ! zpty -r -t z out; then sleep 0.02; continue; fi
    [[ $out == *'<<end>>'* ]] && break
    [[ $out == *'<<match>>'* ]] && print -r -- "${${out##*<<match>>}%%[$'\r\n']*}"
  done
  zpty -w -n z $'\x15'  # ^U: a fresh line for the next one
done
zpty -d z
