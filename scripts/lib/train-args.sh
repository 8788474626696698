# Helpers of the training scripts (sourced).

# ner_override ARGS_NAME EXTRA...: removes from the array named ARGS_NAME every flag that EXTRA
# (the user's flags after `--`) also sets, with its value, so that the user's flags win rather
# than clap refusing a flag given twice. Flags of ARGS that take no value are listed in
# NER_SWITCHES (space-separated).
ner_override() {
  local -n _args=$1
  shift
  local -A given=()
  local f
  for f in "$@"; do
    [[ $f == --* ]] && given[${f%%=*}]=1
  done
  local kept=() i=0 flag
  while ((i < ${#_args[@]})); do
    flag=${_args[i]}
    local takes_value=1
    [[ " ${NER_SWITCHES:-} " == *" $flag "* ]] && takes_value=0
    if [[ -n ${given[$flag]:-} ]]; then
      ((i += 1 + takes_value))
      continue
    fi
    kept+=("$flag")
    ((i += 1))
    if ((takes_value)) && [[ $flag == --* ]] && ((i < ${#_args[@]})); then
      kept+=("${_args[i]}")
      ((i += 1))
    fi
  done
  _args=("${kept[@]}")
}

# ner_python: prints a Python with pip for the training scripts' packages: the project's
# PyTorch environment, or (with your own libtorch) a small environment of its own.
ner_python() {
  if [[ -n ${NER_PYTHON:-} ]]; then
    echo "$NER_PYTHON"
    return
  fi
  [[ -x $NER_CACHE_DIR/minilm/bin/python ]] || python3 -m venv "$NER_CACHE_DIR/minilm" >&2
  echo "$NER_CACHE_DIR/minilm/bin/python"
}

# ner_resume_flags ARGS...: prints, one per line, the flags of ARGS that a resumed run needs
# again because the run does not store them (how it runs, not what it learns): --threads and
# --device with their values, --quiet. Without --threads a resumed run took every core, and
# beside another training its OpenMP threads spin-waited, several times slower.
ner_resume_flags() {
  while (($#)); do
    case $1 in
      --threads|--device) printf '%s\n' "$1" "${2-}"; shift ;;
      --threads=*|--device=*|--quiet) printf '%s\n' "$1" ;;
    esac
    shift
  done
}

# ner_train_or_resume NER OUT TEST ARGS...: continues the run in OUT when it was started before
# (OUT/run.json exists; ARGS give only its --threads, --device and --quiet), else trains with
# ARGS; then evaluates OUT on TEST.
ner_train_or_resume() {
  local ner=$1 out=$2 test=$3
  shift 3
  if [[ -f $out/run.json ]]; then
    echo "[train] resuming $out" >&2
    local again
    mapfile -t again < <(ner_resume_flags "$@")
    "$ner" train --resume "$out" "${again[@]}"
  else
    "$ner" train "$@"
  fi
  "$ner" eval --model "$out" "$test"
}
