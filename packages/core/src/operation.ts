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
  /**
   * It has an undo that is safe to run whatever part of it was done: recorded as begun before
   * it runs, so that a process killed inside it has it undone by reconcile (a plugin's claim
   * made before the step was recorded done would leak otherwise).
   */
  undoable?: boolean;
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
    if (step.undoable) this.journal.stepBegun(this.record.id, step.id);
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

/** What reconcile undoes of an operation a killed process left: its done steps and the one it was in. */
export function stepsToUndo(record: Pick<OperationRecord, 'doneSteps' | 'begunStep'>): string[] {
  const { doneSteps, begunStep } = record;
  return begunStep && !doneSteps.includes(begunStep) ? [...doneSteps, begunStep] : [...doneSteps];
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
