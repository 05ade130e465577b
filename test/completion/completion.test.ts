/**
 * `fcgi-spawn completion bash|zsh`: the script a shell loads, run by the real shell. Bash completes as it would
 * at a prompt (COMP_WORDS, COMP_CWORD, the completion function, COMPREPLY); zsh loads it after compinit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-completion-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What bash offers for the line `words` with the cursor at the end of the last word. */
function complete(script: string, words: readonly string[], cwd = dir): string[] {
  const program = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _fcgi_spawn; printf "%s\\n" "${COMPREPLY[@]}"';
  const result = spawnSync('bash', ['--norc', '-c', program, 'bash', script, ...words], { cwd, encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  return result.stdout.split('\n').filter((line) => line !== '').sort();
}

/** The long options a command's --help lists. */
async function helpOptions(command: string): Promise<string[]> {
  const help = await runCli([command, '--help']);
  return [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((match) => match[1] as string).sort();
}

describe('bash completion', needs('bash'), () => {
  const script = join(dir, 'fcgi-spawn.bash');
  before(async () => {
    const generated = await runCli(['completion', 'bash']);
    assert.equal(generated.code, 0, generated.stderr);
    writeFileSync(script, generated.stdout);
  });

  it('registers itself for fcgi-spawn', () => {
    const result = spawnSync('bash', ['--norc', '-c', 'source "$1"; complete -p fcgi-spawn', 'bash', script], { encoding: 'utf8' });
    assert.equal(result.stdout.trim(), 'complete -F _fcgi_spawn fcgi-spawn');
  });

  it('offers the subcommands, then each one its own options', async () => {
    assert.deepEqual(complete(script, ['fcgi-spawn', 'st']), ['start', 'status', 'stop']);
    assert.ok(complete(script, ['fcgi-spawn', '']).includes('completion'));
    assert.deepEqual(complete(script, ['fcgi-spawn', 'start', '--wo']), ['--worker-log', '--worker-log-format', '--workers']);
    assert.deepEqual(complete(script, ['fcgi-spawn', 'stop', '--gr']), ['--graceful']);
    // Every long option --help lists, none it does not: the script comes from the same command tree.
    for (const command of ['start', 'probe', 'status']) {
      const offered = complete(script, ['fcgi-spawn', command, '--']).filter((word) => word.startsWith('--'));
      assert.deepEqual(offered, await helpOptions(command), command);
    }
  });

  it('completes values: choices, files, nothing for a number; after -- a program', () => {
    assert.deepEqual(complete(script, ['fcgi-spawn', 'probe', '--protocol', '']), ['fastcgi', 'http', 'scgi']);
    assert.deepEqual(complete(script, ['fcgi-spawn', 'completion', '']), ['bash', 'zsh']);
    writeFileSync(join(dir, 'workers.log'), '');
    assert.deepEqual(complete(script, ['fcgi-spawn', 'start', '--worker-log', '']), ['fcgi-spawn.bash', 'inherit', 'none', 'workers.log']);
    assert.deepEqual(complete(script, ['fcgi-spawn', 'start', '-p', '']), []);
    // `-p 9000` is an option's value, not the subcommand, and after `--` comes the worker's program.
    const programs = complete(script, ['fcgi-spawn', 'start', '-p', '9000', '--', 'node']);
    assert.ok(programs.includes('node'), programs.join(' '));
    assert.deepEqual(complete(script, ['fcgi-spawn', 'start', '-p', '9000', '--', 'node', 'work']), ['workers.log']);
  });
});

describe('zsh completion', needs('zsh'), () => {
  it('loads after compinit and is the completion of fcgi-spawn', async () => {
    const generated = await runCli(['completion', 'zsh']);
    assert.equal(generated.code, 0);
    const script = join(dir, '_fcgi-spawn');
    writeFileSync(script, generated.stdout);
    const syntax = spawnSync(findTool('zsh') as string, ['-n', script], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const loaded = spawnSync(findTool('zsh') as string, ['-f', '-c', 'autoload -U compinit && compinit -u -d "$2/zcompdump" && source "$1" && print -r -- $_comps[fcgi-spawn]', 'zsh', script, dir], { encoding: 'utf8' });
    assert.equal(loaded.stderr, '');
    assert.equal(loaded.stdout.trim(), '_fcgi_spawn');
  });

  it('refuses a shell it has no script for', async () => {
    const result = await runCli(['completion', 'fish']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "fcgi-spawn: command-argument value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh.\n");
  });
});
