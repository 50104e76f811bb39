import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { terminalEnvironment } from '../../core/env';
import { type OpenTerminal, TerminalOpenError } from './terminal';

// The `terminal` plugin of API.md §9: a PTY on the Portal host (node-pty), behind the same terminal
// JSON protocol as the SSH relay. The hub only gets here when TERMINAL_ENABLED is on and the caller
// is Admin+. The shell runs as the Portal process's user with a minimal environment (never
// Portal's own configuration); output is paused while the client is behind.

type NodePty = typeof import('node-pty');
let loaded: Promise<NodePty> | null = null;
// Loaded on first use: a server with the terminal off never loads the native module.
const nodePty = () => {
  loaded ??= import('node-pty').then((m) => ((m as { default?: NodePty }).default ?? m) as NodePty);
  return loaded;
};

export function ptyTerminal(shell: string): OpenTerminal {
  return async (size, events) => {
    if (!existsSync(shell)) throw new TerminalOpenError(`Terminal shell not found: ${shell}`);
    let pty: import('node-pty').IPty;
    try {
      const { spawn } = await nodePty();
      const env = terminalEnvironment();
      pty = spawn(shell, [], {
        name: 'xterm-256color',
        cols: size.cols,
        rows: size.rows,
        cwd: env.HOME && existsSync(env.HOME) ? env.HOME : homedir(),
        env,
      });
    } catch (err) {
      throw new TerminalOpenError(`Could not start the terminal: ${(err as Error).message}`);
    }
    let exited = false;
    pty.onData((data) => events.output(data));
    pty.onExit(() => {
      exited = true;
      events.end('Session ended');
    });
    return {
      write: (data) => {
        pty.write(data);
        return true;
      },
      resize: (cols, rows) => {
        if (!exited) pty.resize(cols, rows);
      },
      pause: () => pty.pause(),
      resume: () => pty.resume(),
      close() {
        if (!exited) pty.kill();
      },
    };
  };
}
