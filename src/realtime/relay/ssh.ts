import type { ClientChannel } from 'ssh2';
import { connectSsh, SshConnectError, type SshTarget } from '../../services/sftp/ssh-session';
import { RelayClose } from './common';
import { type OpenTerminal, TerminalOpenError } from './terminal';

// The `ssh` relay of seed 002: a PTY shell on the target through ssh2 (or, with `command`, that
// one command in a PTY, like `ssh host command`), behind the terminal JSON protocol of TerminalRelay. Client input honours the channel's flow control (`write()` false →
// wait for 'drain'); reading is paused while the client is behind, so the SSH window fills and the
// remote side stops too. A changed host key closes 4409, any other failure 4502.

export function sshTerminal(target: SshTarget, command?: string): OpenTerminal {
  return async (size, events) => {
    let client: Awaited<ReturnType<typeof connectSsh>>['client'];
    try {
      ({ client } = await connectSsh(target));
    } catch (err) {
      const hostKey = err instanceof SshConnectError && err.kind === 'host_key';
      throw new TerminalOpenError(
        err instanceof Error ? err.message : 'Connection failed',
        hostKey ? RelayClose.HOST_KEY_CHANGED : RelayClose.BAD_GATEWAY,
      );
    }
    client.on('error', (err) => events.fail(`SSH error: ${err.message}`));
    client.on('close', () => events.end('Session ended'));
    let stream: ClientChannel;
    const pty = { term: 'xterm-256color', cols: size.cols, rows: size.rows };
    try {
      stream = await new Promise<ClientChannel>((resolve, reject) => {
        const opened = (err: Error | undefined, s: ClientChannel) => (err ? reject(err) : resolve(s));
        if (command === undefined) client.shell(pty, opened);
        else client.exec(command, { pty }, opened);
      });
    } catch (err) {
      client.end();
      const what = command === undefined ? 'a shell' : 'the command';
      throw new TerminalOpenError(`Could not open ${what}: ${(err as Error).message}`);
    }
    let exitCode: number | null = null;
    stream.on('exit', (code: number | null) => {
      exitCode = code;
    });
    stream.on('data', (chunk: Buffer) => events.output(chunk));
    stream.stderr.on('data', (chunk: Buffer) => events.output(chunk));
    stream.on('drain', () => events.drain());
    stream.on('close', () =>
      events.end(
        command !== undefined && exitCode !== null ? `Command exited with code ${exitCode}` : 'Session ended',
      ),
    );
    return {
      write: (data) => stream.write(data),
      resize: (cols, rows) => stream.setWindow(rows, cols, 0, 0),
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      close() {
        stream.close();
        client.end();
      },
    };
  };
}
