// Polls `fn` until it stops throwing; rethrows the last failure after `budgetMs`. For what a
// background loop (an agent, the stand-in's controllers) does asynchronously.
export async function eventually<T>(fn: () => T | Promise<T>, budgetMs: number, stepMs: number): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}
