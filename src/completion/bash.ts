/**
 * The bash completion script, from the command tree: `source <(fcgi-spawn completion bash)`, or save it as
 * /usr/share/bash-completion/completions/fcgi-spawn. Plain bash (compgen, COMP_WORDS): bash-completion's helpers
 * are not needed.
 */
import type { CommandModel, CompletionModel, OptionModel, ValueKind } from './model.js';

/** A word list for compgen -W, quoted for bash (our words have no quotes of their own). */
function words(list: readonly string[]): string {
  return `'${list.join(' ')}'`;
}

function reply(value: ValueKind): string {
  switch (value.kind) {
    case 'choices':
      return `mapfile -t COMPREPLY < <(compgen -W ${words(value.choices)} -- "$cur")`;
    // compopt: quote the names and mark directories, as for any file name.
    case 'file':
      return `compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"${value.words.length > 0 ? `; compgen -W ${words(value.words)} -- "$cur"` : ''})`;
    case 'directory':
      return 'compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur")';
    case 'free':
      return 'COMPREPLY=()';
  }
}

/** `start:-p|start:--port) COMPREPLY=(); return ;;`: what follows an option that takes a value. */
function valueCases(command: CommandModel): string[] {
  return command.options
    .filter((option): option is OptionModel & { value: ValueKind } => option.value !== undefined)
    .map((option) => `      ${option.words.map((word) => `${command.name}:${word}`).join('|')}) ${reply(option.value)}; return ;;`);
}

function optionWords(options: readonly OptionModel[]): string[] {
  return options.flatMap((option) => option.words);
}

/** After the options: the command's arguments (a variadic one after `--` is a program, then its arguments). */
function argumentCase(command: CommandModel): string {
  const variadic = command.arguments.find((argument) => argument.variadic);
  const first = command.arguments[0];
  if (variadic) return `      ${command.name}) if ((dashdash)); then if ((COMP_CWORD == dashdash + 1)); then mapfile -t COMPREPLY < <(compgen -c -- "$cur"); else ${reply({ kind: 'file', words: [] })}; fi; fi ;;`;
  if (first) return `      ${command.name}) ${reply(first.value)} ;;`;
  return `      ${command.name}) COMPREPLY=() ;;`;
}

export function bashScript(model: CompletionModel): string {
  const fn = `_${model.program.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const commands = model.commands.map((command) => command.name);
  return `# ${model.program} completion for bash, generated from its commands by \`${model.program} completion bash\`.
# Load it with: source <(${model.program} completion bash)
# or save it as /usr/share/bash-completion/completions/${model.program}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local command='' dashdash=0 i
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ -z $command && \${COMP_WORDS[i]} != -* ]]; then command=\${COMP_WORDS[i]}
    elif [[ -n $command && \${COMP_WORDS[i]} == -- ]]; then dashdash=$i; break
    fi
  done
  if [[ -z $command ]]; then
    mapfile -t COMPREPLY < <(compgen -W ${words([...commands, ...optionWords(model.options)])} -- "$cur")
    return
  fi
  if ((dashdash == 0)); then
    case "$command:$prev" in
${model.commands.flatMap(valueCases).join('\n')}
    esac
    if [[ $cur == -* ]]; then
      case $command in
${model.commands.map((command) => `        ${command.name}) mapfile -t COMPREPLY < <(compgen -W ${words(optionWords(command.options))} -- "$cur") ;;`).join('\n')}
      esac
      return
    fi
  fi
  case $command in
${model.commands.map(argumentCase).join('\n')}
  esac
}
complete -F ${fn} ${model.program}
`;
}
