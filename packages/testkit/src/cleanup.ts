/**
 * Cleanup that runs even when a test fails: register undo actions as you create things,
 * and `useCleanup()` runs them (last first) in mocha's afterEach.
 */

export type CleanupAction = () => unknown | Promise<unknown>;

export class Cleanup {
  private actions: { label: string; action: CleanupAction }[] = [];

  add(label: string, action: CleanupAction): void {
    this.actions.push({ label, action });
  }

  /** Runs every action, last registered first; collects failures instead of stopping. */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    const actions = this.actions.reverse();
    this.actions = [];
    for (const { label, action } of actions) {
      try {
        await action();
      } catch (error) {
        failures.push(`${label}: ${(error as Error).message}`);
      }
    }
    return failures;
  }
}

/** A Cleanup bound to mocha's afterEach in the calling describe block. */
export function useCleanup(): Cleanup {
  const cleanup = new Cleanup();
  afterEach(async () => {
    const failures = await cleanup.run();
    if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
  });
  return cleanup;
}
