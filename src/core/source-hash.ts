import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fromPackageRoot, packageRoot } from './package-root';

/** The git commit of the running build, read once at start (X-Source-Hash, /health/deployment). */
export function readSourceHash(override?: string): string {
  if (override) return override;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export function readPackageVersion(): string {
  const pkg = JSON.parse(readFileSync(fromPackageRoot('package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
