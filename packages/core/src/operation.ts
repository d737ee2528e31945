/**
 * Runs the steps of one operation with a journal: the intent is recorded before acting and
 * each step after it completes, so a failure undoes the completed steps in reverse, and a
 * process killed at any point leaves a record that reconcile can act on.
 */

import { NsboxError, toNsboxError } from './errors.js';
import type { OperationJournal, OperationRecord } from './ports.js';

export interface Step {
  /** Stable id, stored in the journal: `hook:<plugin>:<hook>` or `driver:<action>`. */
  id: string;
  run(): Promise<void>;
}

export type UndoStep = (stepId: string) => Promise<void>;

export class OperationRun {
  private readonly done: string[] = [];

  constructor(
    private readonly journal: OperationJournal,
    readonly record: OperationRecord,
    private readonly undo: UndoStep,
  ) {}

  /** Runs a step; on failure undoes what this operation did so far and rethrows. */
  async step(step: Step): Promise<void> {
    try {
      await step.run();
    } catch (error) {
      const failure = toNsboxError(error, 'E_HOOK_FAILED');
      const undoErrors = await this.undoAll();
      throw new NsboxError(failure.code, `${step.id} failed: ${failure.message}`, {
        details: { ...failure.details, step: step.id, undone: [...this.done].reverse(), undoErrors },
        cause: error,
      });
    }
    this.done.push(step.id);
    this.journal.stepDone(this.record.id, step.id);
  }

  /** Undoes completed steps, last first; keeps going past errors and returns them. */
  async undoAll(): Promise<string[]> {
    return undoSteps(this.done, this.undo);
  }
}

export async function undoSteps(done: readonly string[], undo: UndoStep): Promise<string[]> {
  const errors: string[] = [];
  for (const stepId of [...done].reverse()) {
    try {
      await undo(stepId);
    } catch (error) {
      errors.push(`${stepId}: ${(error as Error).message}`);
    }
  }
  return errors;
}
