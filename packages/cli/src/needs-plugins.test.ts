import assert from 'node:assert/strict';
import { builtinCommands } from './commands/index.js';
import { namesPluginCommand, needsPlugins, preScan } from './program.js';

/** Whether `nsbox <argv>` opens the host (and its plugins) before it parses the command line. */
const needs = (...argv: string[]) => needsPlugins(preScan(argv), builtinCommands);

describe('which command lines need the plugins to be parsed', () => {
  it('a built-in command with its own options does not', () => {
    assert.equal(needs('list'), false);
    assert.equal(needs('--state-dir', '/x', '--json', 'list', '--state', 'running'), false);
    assert.equal(needs('info', 'web'), false);
    assert.equal(needs('--version'), false);
    assert.equal(needs('run', '--rm', '--rootfs', '/r', '-e', 'A=1', 'web', '--', '/bin/true', '--net'), false);
    assert.equal(needs('config', 'validate', 'box.json'), false);
  });

  it("a plugin's command, a plugin's option of create/run, and help do", () => {
    assert.equal(needs('network', 'list'), true);
    assert.equal(needs('run', '--rm', '--net', 'bridge', '--rootfs', '/r', 'web'), true);
    assert.equal(needs('create', 'web', '--net=bridge'), true);
    assert.equal(needs('list', '--help'), true);
    assert.equal(needs('help'), true);
    assert.equal(needs(), true);
  });
});

describe("which command lines name a plugin's command (through nsboxd: parsed with the plugins' definitions alone)", () => {
  const names = (...argv: string[]) => namesPluginCommand(preScan(argv), builtinCommands);

  it('a command that is not a built-in, with its own options, does', () => {
    assert.equal(names('stats', 'web', '--since', '1h'), true);
    assert.equal(names('--json', 'network', 'list'), true);
  });

  it("a built-in (even with a plugin's option), help, or no command does not", () => {
    assert.equal(names('list'), false);
    assert.equal(names('run', '--rm', '--net', 'bridge', '--rootfs', '/r', 'web'), false);
    assert.equal(names('stats', '--help'), false);
    assert.equal(names('help', 'stats'), false);
    assert.equal(names('--json'), false);
  });
});
