/**
 * contrib/docker/Dockerfile and contrib/kubernetes/fcgi-spawn.yaml are not run here (no docker, no cluster), so
 * everything they say about fcgi-spawn is checked against this version: every `fcgi-spawn` command line they hold
 * names a command and options that `--help` lists (values where a value is due, one of the choices where there
 * are choices), every file they name is in the image, and the pieces agree with each other (the address nginx
 * and the probes use is the one the pool binds; the nginx config is the tested template, rendered).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { contribPath, renderTemplate } from '../helpers/contrib.js';
import { ROOT, runCli } from '../helpers/supervisor.js';

interface CommandHelp {
  /** `--port` and `-p` → whether a value follows, and its choices if --help lists them. */
  readonly options: Map<string, { readonly value: boolean; readonly choices?: string[] }>;
  readonly maxArguments: number;
}

/** What `fcgi-spawn COMMAND --help` says the command takes. */
async function commandHelp(command: string): Promise<CommandHelp> {
  const help = await runCli([command, '--help']);
  assert.equal(help.code, 0, `fcgi-spawn ${command} --help: ${help.stderr}`);
  const options = new Map<string, { value: boolean; choices?: string[] }>();
  // Descriptions wrap at 80 columns: a continuation line (deeper indent) belongs to the option above it.
  const text = help.stdout.replace(/\n {4,}(?=\S)/g, ' ');
  for (const match of text.matchAll(/^ {2}(-\w)?(?:, )?(--[\w-]+)?( [<[][^>\]]+[>\]])?(.*)$/gm)) {
    const choices = /\(choices: ([^)]*)\)/.exec(match[4] ?? '')?.[1]?.split(', ').map((choice) => JSON.parse(choice) as string);
    const spec = { value: match[3] !== undefined, ...(choices ? { choices } : {}) };
    if (match[1]) options.set(match[1], spec);
    if (match[2]) options.set(match[2], spec);
  }
  const usage = /^Usage: fcgi-spawn \S+ (.*)$/m.exec(help.stdout)?.[1] ?? '';
  const variadic = /\.\.\.[>\]]/.test(usage);
  return { options, maxArguments: variadic ? Infinity : (usage.match(/[<[][^>\]]+[>\]]/g) ?? []).filter((word) => !/options/.test(word)).length };
}

/** An argv whose program is fcgi-spawn, checked word by word; returns its options and its positional words. */
async function checkCommandLine(argv: readonly string[], where: string): Promise<{ command: string; options: Map<string, string | true>; positional: string[]; worker: string[] }> {
  assert.equal(argv[0], 'fcgi-spawn', `${where}: runs ${argv[0]}`);
  const command = argv[1] as string;
  const help = await commandHelp(command);
  const options = new Map<string, string | true>();
  const positional: string[] = [];
  let index = 2;
  for (; index < argv.length && argv[index] !== '--'; index += 1) {
    const word = argv[index] as string;
    if (!word.startsWith('-')) {
      positional.push(word);
      continue;
    }
    const spec = help.options.get(word);
    assert.ok(spec, `${where}: fcgi-spawn ${command} has no option ${word}`);
    if (!spec.value) {
      options.set(word, true);
      continue;
    }
    const value = argv[index + 1];
    assert.ok(value !== undefined && !value.startsWith('-'), `${where}: ${word} needs a value`);
    if (spec.choices) assert.ok(spec.choices.includes(value), `${where}: ${word} ${value}: not one of ${spec.choices.join(', ')}`);
    options.set(word, value);
    index += 1;
  }
  assert.ok(positional.length <= help.maxArguments, `${where}: fcgi-spawn ${command} takes at most ${help.maxArguments} arguments: ${positional.join(' ')}`);
  return { command, options, positional, worker: argv.slice(index + 1) };
}

/** Dockerfile instructions, continuation lines joined; exec-form arguments parsed as JSON. */
function dockerfile(text: string): Array<{ instruction: string; rest: string }> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    .map((line) => {
      const [instruction = '', ...rest] = line.trim().split(/\s+/);
      return { instruction: instruction.toUpperCase(), rest: rest.join(' ') };
    });
}

function execForm(rest: string): string[] {
  return JSON.parse(rest.slice(rest.indexOf('['))) as string[];
}

// The YAML's objects, typed as far as the checks go.
type Container = { name: string; image: string; command?: string[]; args?: string[]; volumeMounts?: Array<{ name: string; mountPath: string }>; ports?: Array<{ containerPort: number }>; readinessProbe?: { exec?: { command: string[] } }; livenessProbe?: { exec?: { command: string[] } }; lifecycle?: { preStop?: { exec?: { command: string[] } } } };
type Resource = { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { template?: { spec: { terminationGracePeriodSeconds?: number; volumes: Array<{ name: string; configMap?: { name: string } }>; initContainers?: Container[]; containers: Container[] } } } };

describe('contrib/docker and contrib/kubernetes', () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> });
  const instructions = dockerfile(readFileSync(contribPath('docker/Dockerfile'), 'utf8'));
  const resources = parseAllDocuments(readFileSync(contribPath('kubernetes/fcgi-spawn.yaml'), 'utf8')).map((document) => {
    assert.deepEqual(document.errors, []);
    return document.toJS() as Resource;
  });
  const deployment = resources.find((resource) => resource.kind === 'Deployment');
  const pod = deployment?.spec?.template?.spec;
  const php = pod?.containers.find((container) => container.name === 'php');
  const entrypoint = execForm(instructions.find((i) => i.instruction === 'ENTRYPOINT')?.rest ?? '[]');
  const cmd = execForm(instructions.find((i) => i.instruction === 'CMD')?.rest ?? '[]');
  let start: Awaited<ReturnType<typeof checkCommandLine>>;

  before(async () => {
    assert.ok(pod && php, 'a Deployment with a container named php');
    assert.ok(Object.keys(version.bin).includes('fcgi-spawn'), 'package.json installs the fcgi-spawn command');
    start = await checkCommandLine([...entrypoint, ...cmd], 'Dockerfile ENTRYPOINT + CMD');
  });

  it('runs fcgi-spawn start in the foreground as the entry point, logging JSON to stdout', () => {
    assert.equal(start.command, 'start');
    assert.equal(start.options.get('--no-daemon'), true, 'PID 1 stays in the foreground');
    assert.equal(start.options.get('--log-format'), 'json');
    assert.equal(start.options.get('--log-file'), '/dev/stdout');
    assert.deepEqual(start.worker, ['php-cgi']);
    const installs = instructions.filter((i) => i.instruction === 'RUN').map((i) => i.rest).join('\n');
    assert.match(installs, /apt-get install [^\n]*\bphp-cgi\b/, 'the image installs the worker program');
    assert.match(installs, /npm install -g "fcgi-spawn@\$\{FCGI_SPAWN_VERSION\}"/);
    assert.ok(instructions.some((i) => i.instruction === 'ARG' && i.rest === `FCGI_SPAWN_VERSION=${version.version}`), 'the image installs this version');
    assert.equal(instructions.find((i) => i.instruction === 'STOPSIGNAL')?.rest, 'SIGQUIT', 'docker stop stops gracefully');
  });

  it('the Deployment runs the image entry point, and every fcgi-spawn command line in it exists', async () => {
    assert.deepEqual([...(php?.command ?? []), ...(php?.args ?? [])], [...entrypoint, ...cmd]);
    const lines = [php?.readinessProbe?.exec?.command, php?.livenessProbe?.exec?.command, php?.lifecycle?.preStop?.exec?.command];
    const healthcheck = instructions.find((i) => i.instruction === 'HEALTHCHECK')?.rest ?? '';
    for (const argv of [...lines, execForm(healthcheck.slice(healthcheck.indexOf('CMD')))]) {
      assert.ok(argv, 'probes and preStop run commands');
      await checkCommandLine(argv, argv.join(' '));
    }
    for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      if (container.image.startsWith('example/fcgi-spawn-php')) assert.equal(container.image, `example/fcgi-spawn-php:${version.version}`);
    }
  });

  it('probes the address the pool binds, for a file the image has', async () => {
    const address = `${start.options.get('--address')}:${start.options.get('--port')}`;
    const copies = instructions.filter((i) => i.instruction === 'COPY').map((i) => i.rest.split(/\s+/) as [string, string]);
    for (const argv of [php?.readinessProbe?.exec?.command, php?.livenessProbe?.exec?.command]) {
      const probe = await checkCommandLine(argv ?? [], 'probe');
      assert.equal(probe.positional[0], address);
      const file = probe.positional[1] as string;
      const copy = copies.find(([, destination]) => file.startsWith(destination));
      assert.ok(copy, `${file}: no COPY puts it in the image`);
      assert.ok(existsSync(contribPath(join('docker', copy[0], file.slice(copy[1].length)))), `${file}: not in contrib/docker/${copy[0]}`);
    }
  });

  it('stops gracefully before the kubelet gives up', async () => {
    const stop = await checkCommandLine(php?.lifecycle?.preStop?.exec?.command ?? [], 'preStop');
    assert.equal(stop.command, 'stop');
    assert.equal(stop.options.get('--graceful'), true);
    assert.equal(stop.options.get('--name'), start.options.get('--name'));
    const seconds = (option: string, fallback: number): number => Number(start.options.get(option) ?? fallback);
    const needed = seconds('--graceful-timeout', 30) + seconds('--stop-timeout', 10);
    assert.ok(Number(stop.options.get('--timeout')) >= needed, 'stop waits for the graceful and the stop timeouts');
    assert.ok((pod?.terminationGracePeriodSeconds ?? 30) > Number(stop.options.get('--timeout')), 'the pod outlives the stop');
  });

  it('gives nginx the tested template, in front of the pool, and every mount a volume', () => {
    const configMap = resources.find((resource) => resource.kind === 'ConfigMap');
    const rendered = renderTemplate('nginx/fcgi-spawn-php.conf', { UPSTREAM: `${start.options.get('--address')}:${start.options.get('--port')}`, LISTEN: '8080', SERVER_NAME: '_', ROOT: '/var/www/html' });
    // The header (placeholders, how to install it) stays in contrib/; the settings are the same, line for line.
    const settings = rendered.slice(rendered.search(/^[^#\n]/m));
    assert.equal(configMap?.data?.['default.conf'], settings);
    const nginx = pod?.containers.find((container) => container.name === 'nginx');
    assert.deepEqual(nginx?.ports?.map((port) => port.containerPort), [8080]);
    for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      for (const mount of container.volumeMounts ?? []) {
        const volume = pod?.volumes.find((candidate) => candidate.name === mount.name);
        assert.ok(volume, `${container.name}: mount ${mount.name} has no volume`);
        if (volume.configMap) assert.equal(volume.configMap.name, configMap?.metadata.name);
      }
    }
  });
});
