// Preloaded into servers under a memory benchmark (never in production): SIGUSR2 runs a full
// garbage collection, so resident memory is read without garbage left by earlier work.
const collect = (globalThis as { gc?: () => void }).gc;
if (collect) process.on('SIGUSR2', () => collect());

export {};
