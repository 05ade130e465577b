/** `fcgi-spawn completion bash|zsh`: prints the completion script, generated from the command tree now. */
import type { Command } from 'commander';
import { bashScript } from '../completion/bash.js';
import { completionModel } from '../completion/model.js';
import { zshScript } from '../completion/zsh.js';

/** The shell was checked by commander (choices). */
export function runCompletion(shell: 'bash' | 'zsh', program: Command): number {
  const model = completionModel(program);
  process.stdout.write(shell === 'bash' ? bashScript(model) : zshScript(model));
  return 0;
}
