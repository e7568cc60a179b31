// Completion scripts for `kubectl multinic completion bash|zsh|fish`: each asks
// kubectl_complete-multinic (cobra's `__complete` protocol: candidates, then `:directive`) for the
// words typed after `kubectl-multinic`, so the shells and kubectl's own plugin completion agree. Pure.

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = String.raw`# bash completion for kubectl-multinic (kubectl multinic completion bash)
# Use: source <(kubectl multinic completion bash). Through kubectl itself (kubectl >= 1.26), completion
# works without this script as long as kubectl_complete-multinic is on PATH.
_kubectl_multinic() {
  local cur=${"$"}{COMP_WORDS[COMP_CWORD]} out line directive=0
  out=$(kubectl_complete-multinic "${"$"}{COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=()
  while IFS= read -r line; do
    if [[ $line == :* ]]; then directive=${"$"}{line#:}; continue; fi
    [[ -n $line ]] && COMPREPLY+=("${"$"}{line%%$'\t'*}")
  done <<<"$out"
  if (( directive & 2 )); then compopt -o nospace 2>/dev/null; fi
  if (( ${"$"}{#COMPREPLY[@]} == 0 )) && (( (directive & 4) == 0 )); then
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
  return 0
}
complete -F _kubectl_multinic kubectl-multinic
`;

const ZSH = String.raw`#compdef kubectl-multinic
# zsh completion for kubectl-multinic (kubectl multinic completion zsh)
# Use: source <(kubectl multinic completion zsh)
_kubectl_multinic() {
  local out directive l
  local -a lines cands
  out=$(kubectl_complete-multinic "${"$"}{(@)words[2,$CURRENT]}" 2>/dev/null) || return 1
  lines=("${"$"}{(@f)out}")
  directive=${"$"}{lines[-1]#:}
  for l in "${"$"}{(@)lines[1,-2]}"; do
    if [[ $l == *$'\t'* ]]; then cands+=("${"$"}{${"$"}{l%%$'\t'*}//:/\\:}:${"$"}{l#*$'\t'}"); else cands+=("${"$"}{l//:/\\:}"); fi
  done
  if (( ${"$"}{#cands} == 0 )) && (( (directive & 4) == 0 )); then _files; return; fi
  _describe 'kubectl-multinic' cands
}
if [[ $funcstack[1] == _kubectl_multinic ]]; then _kubectl_multinic "$@"; else compdef _kubectl_multinic kubectl-multinic; fi
`;

const FISH = String.raw`# fish completion for kubectl-multinic (kubectl multinic completion fish)
# Use: kubectl multinic completion fish | source
function __kubectl_multinic_complete
    set -l args (commandline -opc)[2..-1] (commandline -ct)
    kubectl_complete-multinic $args 2>/dev/null | string match -v -r '^:'
end
complete -c kubectl-multinic -f -a '(__kubectl_multinic_complete)'
`;

/** The script for `shell`. */
export function completionScript(shell: Shell): string {
  return { bash: BASH, zsh: ZSH, fish: FISH }[shell];
}
