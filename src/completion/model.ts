/**
 * What shell completion needs from commander's command tree, read at run time so the scripts follow the CLI:
 * each subcommand, its options (which take a value, which value: a choice, a file, or free), its arguments.
 */
import type { Command } from 'commander';

/** What a value completes to: one of choices, a file name, a directory, or nothing we can guess (a number). */
export type ValueKind =
  | { readonly kind: 'choices'; readonly choices: readonly string[] }
  /** A file name, or one of the words beside it (`<path|inherit|none>`). */
  | { readonly kind: 'file'; readonly words: readonly string[] }
  | { readonly kind: 'directory' }
  | { readonly kind: 'free' };

export interface OptionModel {
  /** `-p` and `--port`, as typed. */
  readonly words: readonly string[];
  readonly description: string;
  /** Undefined: a flag without a value. */
  readonly value?: ValueKind;
  /** The placeholder: `port` for `-p, --port <port>`. */
  readonly valueName?: string;
  readonly repeatable: boolean;
}

export interface ArgumentModel {
  readonly name: string;
  readonly required: boolean;
  readonly value: ValueKind;
  /** The rest of the line (`start -- <command...>`): a program, then its arguments. */
  readonly variadic: boolean;
}

export interface CommandModel {
  readonly name: string;
  readonly description: string;
  readonly options: readonly OptionModel[];
  readonly arguments: readonly ArgumentModel[];
}

export interface CompletionModel {
  readonly program: string;
  readonly options: readonly OptionModel[];
  readonly commands: readonly CommandModel[];
}

const HELP: OptionModel = { words: ['-h', '--help'], description: 'display help', repeatable: false };

/** The value placeholder's words say what it is: `<path>`, `<path|inherit|none>`, `<dir>`; an argument's description too. */
function valueKind(placeholder: string, choices: readonly string[] | undefined): ValueKind {
  if (choices) return { kind: 'choices', choices };
  if (/\bdir\b/.test(placeholder)) return { kind: 'directory' };
  if (/path|file/.test(placeholder)) {
    const alternatives = placeholder.includes('|') ? placeholder.split('|').filter((word) => !/path|file/.test(word)) : [];
    return { kind: 'file', words: alternatives };
  }
  return { kind: 'free' };
}

interface CommanderOption {
  readonly flags: string;
  readonly short?: string;
  readonly long?: string;
  readonly description: string;
  readonly required: boolean;
  readonly optional: boolean;
  readonly hidden: boolean;
  readonly argChoices?: string[];
  readonly parseArg?: unknown;
}

function optionModel(option: CommanderOption): OptionModel {
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    words: [option.short, option.long].filter((word): word is string => word !== undefined),
    description: option.description,
    ...(placeholder !== undefined && (option.required || option.optional) ? { value: valueKind(placeholder, option.argChoices), valueName: placeholder } : {}),
    // Repeatable options collect their values through an argument parser (cli.ts collect).
    repeatable: typeof option.parseArg === 'function' && option.argChoices === undefined,
  };
}

function optionsOf(command: Command): OptionModel[] {
  const options = (command.options as unknown as CommanderOption[]).filter((option) => !option.hidden).map(optionModel);
  return [...options, HELP];
}

export function completionModel(program: Command): CompletionModel {
  return {
    program: program.name(),
    options: optionsOf(program),
    commands: program.commands.map((command) => ({
      name: command.name(),
      description: command.description(),
      options: optionsOf(command),
      arguments: command.registeredArguments.map((argument) => ({
        name: argument.name(),
        required: argument.required,
        variadic: argument.variadic,
        value: valueKind(`${argument.name()} ${argument.description}`, argument.argChoices),
      })),
    })),
  };
}
