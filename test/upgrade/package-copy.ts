/**
 * A "new version on disk", as an operator gets one: a real copy of the built package (bin/, dist/src/, dist/src-cjs/,
 * package.json; node_modules linked) in a temp directory, from which a daemon is started; then its package.json
 * gets another version, or its program is replaced by a broken one, before `upgrade`.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/supervisor.js';
import { outputOf } from '../helpers/processes.js';

export interface PackageCopy {
  readonly dir: string;
  readonly bin: string;
  setVersion(version: string): void;
  /** The program on disk now fails before it does anything (a broken build): `--version` exits 1. */
  breakProgram(): void;
  run(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function copyPackage(parent: string): PackageCopy {
  const dir = join(parent, 'package');
  mkdirSync(join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
  // The CommonJS copy status, stop, probe and --version run from (package.json's files ship it).
  cpSync(join(ROOT, 'dist', 'src-cjs'), join(dir, 'dist', 'src-cjs'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const bin = join(dir, 'bin', 'fcgi-spawn.js');
  return {
    dir,
    bin,
    setVersion(version) {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
    },
    breakProgram() {
      writeFileSync(bin, "#!/usr/bin/env node\nprocess.stderr.write('fcgi-spawn: broken build\\n');\nprocess.exit(1);\n");
    },
    run(args, env, timeoutMs = 60_000) {
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: parent });
      return outputOf(child, `fcgi-spawn ${args.join(' ')}`, timeoutMs);
    },
  };
}
