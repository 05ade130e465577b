/**
 * The zsh completion script, from the command tree: `source <(fcgi-spawn completion zsh)` after compinit, or
 * save it as `_fcgi-spawn` in a directory of $fpath. Built on _arguments and _describe.
 */
import type { ArgumentModel, CommandModel, CompletionModel, OptionModel, ValueKind } from './model.js';

/** One word in single quotes. */
function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** An _arguments description: `[` `]` and `:` end or split a spec. */
function describe(text: string): string {
  return text.replace(/[[\]:\\]/g, (c) => `\\${c}`);
}

function action(value: ValueKind): string {
  switch (value.kind) {
    case 'choices':
      return `(${value.choices.join(' ')})`;
    case 'file':
      return value.words.length > 0 ? `{_files; compadd ${value.words.join(' ')}}` : '_files';
    case 'directory':
      return '_files -/';
    case 'free':
      return ' ';
  }
}

function optionSpecs(option: OptionModel): string[] {
  // Options that exclude each other (-p and --port) are named in parentheses; a repeatable one stays offered.
  const exclusion = option.repeatable ? '*' : `(${option.words.join(' ')})`;
  const value = option.value ? `:${describe(option.valueName ?? 'value')}:${action(option.value)}` : '';
  return option.words.map((word) => quote(`${exclusion}${word}[${describe(option.description)}]${value}`));
}

function argumentSpec(argument: ArgumentModel, index: number): string {
  if (argument.variadic) return quote(`*::${argument.name}:_normal`);
  return quote(`${index + 1}:${argument.name}:${action(argument.value)}`.replace(/^(\d+):/, argument.required ? '$1:' : '$1::'));
}

function commandCase(command: CommandModel): string {
  const specs = [...command.options.flatMap(optionSpecs), ...command.arguments.map(argumentSpec)];
  return `        (${command.name})\n          _arguments -s -S ${specs.join(' ')} && ret=0\n          ;;`;
}

export function zshScript(model: CompletionModel): string {
  const fn = `_${model.program.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const described = model.commands.map((command) => quote(`${command.name}:${command.description.replace(/:/g, '\\:')}`));
  const globals = [...model.options.flatMap(optionSpecs), quote('1:command:->command'), quote('*::argument:->argument')];
  return `#compdef ${model.program}
# ${model.program} completion for zsh, generated from its commands by \`${model.program} completion zsh\`.
# Load it with: source <(${model.program} completion zsh)   (after compinit)
# or save it as _${model.program} in a directory of $fpath.
${fn}() {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args
  local -a commands
  commands=(${described.join(' ')})
  _arguments -C ${globals.join(' ')} && ret=0
  case $state in
    (command)
      _describe -t commands '${model.program} command' commands && ret=0
      ;;
    (argument)
      case $line[1] in
${model.commands.map(commandCase).join('\n')}
      esac
      ;;
  esac
  return ret
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${model.program}
fi
`;
}
