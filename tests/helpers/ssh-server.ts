import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { posix, resolve as resolveFs } from 'node:path';
import ssh2, { type Connection, type ServerChannel, type SFTPWrapper } from 'ssh2';

// A real SSH server for tests: password and public-key auth, a PTY shell that echoes input back
// (and reports `window-change` as `[resized CxR]`), and an SFTP subsystem backed by a directory on
// disk (`/` of the SFTP view is `root`; paths under `denied` answer PERMISSION_DENIED).

const { Server, utils } = ssh2;
const { STATUS_CODE, flagsToString } = utils.sftp;

export type SshTestServer = {
  port: number;
  root: string;
  hostKey: string;
  /** Bytes the last `flood` has handed to its channel so far. */
  floodWritten(): number;
  /** Commands run with `exec`, in order. */
  execSeen: string[];
  /** Sessions whose client is connected now. */
  openClients(): number;
  /** Restarts on the same port, optionally with a new host key. */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
  close(): Promise<void>;
};

/** What the shell writes for `flood\r` (then `flood done`), honouring the channel's flow control. */
export const FLOOD_BYTES = 32 * 1024 * 1024;

/**
 * An ed25519 pair, optionally with the private half encrypted. ssh2 writes about 1 pair in 300
 * that no parser reads back ("Malformed OpenSSH private/public key"; services/ssh-keys says more):
 * such a pair is made again, so no test fails on it.
 */
export function newKeyPair(passphrase?: string) {
  for (;;) {
    const pair = utils.generateKeyPairSync(
      'ed25519',
      passphrase ? { passphrase, cipher: 'aes256-ctr', rounds: 8 } : {},
    );
    const readable = [utils.parseKey(pair.private, passphrase), utils.parseKey(pair.public)];
    if (readable.every((key) => !(key instanceof Error))) return pair;
  }
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

function errnoStatus(err: NodeJS.ErrnoException) {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE;
  if (err.code === 'EACCES' || err.code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function attrsOf(st: fs.Stats) {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

export async function startSshServer(opts: {
  root: string;
  username: string;
  password: string;
  /** Public keys allowed to log in. */
  publicKey: string | string[];
  denied?: string[];
}): Promise<SshTestServer> {
  let hostKey = newKeyPair().private;
  const allowedKeys = [opts.publicKey].flat().map((text) => {
    const key = utils.parseKey(text);
    if (key instanceof Error) throw key;
    return key;
  });
  const clients = new Set<unknown>();
  const denied = opts.denied ?? [];
  const execSeen: string[] = [];

  /** SFTP path → disk path inside root; relative paths start at `/`. */
  const virtual = (p: string) => posix.normalize(posix.join('/', p));
  const disk = (p: string) => resolveFs(opts.root, `.${virtual(p)}`);
  const isDenied = (p: string) => denied.some((d) => virtual(p) === d || virtual(p).startsWith(`${d}/`));

  const onClient = (client: Connection) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (ctx.username !== opts.username) return ctx.reject();
      if (ctx.method === 'password') return ctx.password === opts.password ? ctx.accept() : ctx.reject();
      if (ctx.method === 'publickey') {
        const { key: offered } = ctx;
        const allowed = allowedKeys.find(
          (k) => offered.algo === k.type && same(offered.data, k.getPublicSSH()),
        );
        if (!allowed) return ctx.reject();
        if (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)
          return ctx.reject();
        return ctx.accept();
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let stream: ServerChannel | null = null;
        session.on('pty', (accept) => accept?.());
        session.on('window-change', (accept, _reject, info) => {
          accept?.();
          stream?.write(`[resized ${info.cols}x${info.rows}]`);
        });
        session.on('shell', (accept) => {
          const shell = accept();
          stream = shell;
          shell.write('welcome\r\n');
          shell.on('data', (data: Buffer) => {
            if (data.toString() === 'flood\r') return void flood(shell);
            if (data.toString() === 'exit\r') {
              shell.exit(0);
              shell.end();
              return;
            }
            shell.write(data);
          });
        });
        // `ssh host command`: `echo <text>` prints it, `fail` writes to stderr and exits 3, `cat`
        // echoes input until `q`.
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          execSeen.push(info.command);
          const [name, ...args] = info.command.split(' ');
          if (name === 'echo') {
            channel.write(`${args.join(' ')}\r\n`);
            channel.exit(0);
            return void channel.end();
          }
          if (name === 'fail') {
            channel.stderr.write('boom\r\n');
            channel.exit(3);
            return void channel.end();
          }
          if (name === 'cat') {
            return void channel.on('data', (data: Buffer) => {
              if (data.toString() === 'q') {
                channel.exit(0);
                return void channel.end();
              }
              channel.write(data);
            });
          }
          channel.stderr.write(`${name}: command not found\r\n`);
          channel.exit(127);
          channel.end();
        });
        session.on('sftp', (accept) => serveSftp(accept()));
      });
    });
  };

  let floodWritten = 0;
  function flood(shell: ServerChannel) {
    floodWritten = 0;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (floodWritten < FLOOD_BYTES) {
        floodWritten += chunk.length;
        if (!shell.write(chunk)) return void shell.once('drain', pump);
      }
      shell.write('flood done');
    };
    pump();
  }

  function serveSftp(sftp: SFTPWrapper) {
    const handles = new Map<number, { fd?: number; dir?: string; listed?: boolean }>();
    let next = 0;
    const handleOf = (buf: Buffer) => handles.get(buf.readUInt32BE(0));
    const newHandle = (value: { fd?: number; dir?: string }) => {
      const id = next++;
      handles.set(id, value);
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(id);
      return buf;
    };
    const guard = (reqid: number, path: string, run: () => void) => {
      if (isDenied(path)) return void sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED);
      try {
        run();
      } catch (err) {
        sftp.status(reqid, errnoStatus(err as NodeJS.ErrnoException));
      }
    };
    sftp.on('OPEN', (reqid, filename, flags) =>
      guard(reqid, filename, () => {
        const mode = flagsToString(flags) ?? 'r';
        sftp.handle(reqid, newHandle({ fd: fs.openSync(disk(filename), mode) }));
      }),
    );
    sftp.on('READ', (reqid, handle, offset, length) => {
      const h = handleOf(handle);
      if (h?.fd === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      const buf = Buffer.alloc(length);
      const n = fs.readSync(h.fd, buf, 0, length, offset);
      if (n === 0) return void sftp.status(reqid, STATUS_CODE.EOF);
      sftp.data(reqid, buf.subarray(0, n));
    });
    sftp.on('WRITE', (reqid, handle, offset, data) => {
      const h = handleOf(handle);
      if (h?.fd === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      fs.writeSync(h.fd, data, 0, data.length, offset);
      sftp.status(reqid, STATUS_CODE.OK);
    });
    sftp.on('FSTAT', (reqid, handle) => {
      const h = handleOf(handle);
      if (h?.fd === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      sftp.attrs(reqid, attrsOf(fs.fstatSync(h.fd)));
    });
    sftp.on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
    sftp.on('SETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
    sftp.on('CLOSE', (reqid, handle) => {
      const id = handle.readUInt32BE(0);
      const h = handles.get(id);
      if (!h) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      if (h.fd !== undefined) fs.closeSync(h.fd);
      handles.delete(id);
      sftp.status(reqid, STATUS_CODE.OK);
    });
    sftp.on('OPENDIR', (reqid, path) =>
      guard(reqid, path, () => {
        if (!fs.statSync(disk(path)).isDirectory())
          throw Object.assign(new Error('not a dir'), { code: 'ENOTDIR' });
        sftp.handle(reqid, newHandle({ dir: disk(path) }));
      }),
    );
    sftp.on('READDIR', (reqid, handle) => {
      const h = handleOf(handle);
      if (h?.dir === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      if (h.listed) return void sftp.status(reqid, STATUS_CODE.EOF);
      h.listed = true;
      const names = fs.readdirSync(h.dir).map((name) => {
        const st = fs.lstatSync(resolveFs(h.dir as string, name));
        return { filename: name, longname: name, attrs: attrsOf(st) };
      });
      sftp.name(reqid, names);
    });
    sftp.on('STAT', (reqid, path) =>
      guard(reqid, path, () => sftp.attrs(reqid, attrsOf(fs.statSync(disk(path))))),
    );
    sftp.on('LSTAT', (reqid, path) =>
      guard(reqid, path, () => sftp.attrs(reqid, attrsOf(fs.lstatSync(disk(path))))),
    );
    sftp.on('MKDIR', (reqid, path) =>
      guard(reqid, path, () => {
        fs.mkdirSync(disk(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('RENAME', (reqid, from, to) =>
      guard(reqid, from, () => {
        if (isDenied(to)) return void sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED);
        if (fs.existsSync(disk(to))) return void sftp.status(reqid, STATUS_CODE.FAILURE);
        fs.renameSync(disk(from), disk(to));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('REMOVE', (reqid, path) =>
      guard(reqid, path, () => {
        fs.unlinkSync(disk(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('RMDIR', (reqid, path) =>
      guard(reqid, path, () => {
        fs.rmdirSync(disk(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('REALPATH', (reqid, path) =>
      sftp.name(reqid, [{ filename: virtual(path), longname: virtual(path), attrs: {} as never }]),
    );
    sftp.on('close', () => {
      for (const h of handles.values()) if (h.fd !== undefined) fs.closeSync(h.fd);
      handles.clear();
    });
  }

  let server = new Server({ hostKeys: [hostKey] }, onClient);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const stop = async () => {
    for (const c of clients) (c as { end(): void }).end();
    await new Promise<void>((r) => server.close(() => r()));
  };

  return {
    port,
    root: opts.root,
    get hostKey() {
      return hostKey;
    },
    openClients: () => clients.size,
    floodWritten: () => floodWritten,
    execSeen,
    async restart(o = {}) {
      await stop();
      if (o.newHostKey) hostKey = newKeyPair().private;
      server = new Server({ hostKeys: [hostKey] }, onClient);
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: stop,
  };
}
