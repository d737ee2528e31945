/**
 * Turns debootstrap's machine-readable output (`--debian-installer`, written to fd 3) into
 * progress. Its protocol, from /usr/share/debootstrap/functions:
 *   P: <now> <end> [<PHASE>]      progress within a phase (no phase: wget's, within the last one)
 *   PA: <arg> / PF: <format>      the phase's description
 *   I: <NAME>, IA: <arg>..., IF: <printf format>   an info line ("Retrieving %s %s")
 *   W: ... WA: ... WF: ...        a warning, same shape
 *   E: ... EA: ... EF: ...        the error it is about to exit with
 */

/**
 * Where each phase sits in the whole run, in percent: the shares measured on a bookworm
 * minbase run here (26 s: 5 s of package lists, 8 s of .debs, 13 s of unpacking and
 * configuring). minbase installs everything as "required", so the base phases are empty.
 */
const PHASES: Record<string, [number, number]> = {
  DOWNREL: [0, 1],
  DOWNRELSIG: [1, 2],
  DOWNPKGS: [2, 18],
  DOWNMAINPKGS: [2, 18],
  SIZEDEBS: [18, 20],
  DOWNDEBS: [20, 50],
  EXTRACTPKGS: [50, 63],
  INSTCORE: [63, 70],
  UNPACKREQ: [70, 90],
  CONFREQ: [90, 97],
  UNPACKBASE: [97, 98],
  CONFBASE: [98, 99],
};

export interface DebootstrapUpdate {
  percent: number;
  message?: string;
}

export class DebootstrapProgress {
  private phase: string | undefined;
  private percent = 0;
  private message: string | undefined;
  private pending: { kind: string; args: string[] } | undefined;
  /** Formatted E: messages, for the error when debootstrap fails. */
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  constructor(private readonly emit: (update: DebootstrapUpdate) => void) {}

  line(text: string): void {
    const colon = text.indexOf(': ');
    const tag = colon < 0 ? text.replace(/:$/, '') : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + 2);
    if (tag === 'P') this.progress(value);
    else if (tag === 'I' || tag === 'W' || tag === 'E') this.pending = { kind: tag, args: [] };
    else if (tag === 'IA' || tag === 'WA' || tag === 'EA' || tag === 'PA') this.pending?.args.push(value);
    else if (tag === 'IF' || tag === 'WF' || tag === 'EF') this.finish(tag[0]!, value);
  }

  private progress(value: string): void {
    const [now, end, phase] = value.split(' ');
    if (phase) this.phase = phase;
    this.pending = { kind: 'P', args: [] };
    const range = PHASES[this.phase ?? ''];
    const current = Number(now);
    const total = Number(end);
    if (!range || !Number.isFinite(current) || !(total > 0)) return;
    const percent = Math.floor(range[0] + (range[1] - range[0]) * Math.min(1, current / total));
    if (percent <= this.percent) return;
    this.percent = percent;
    this.send();
  }

  private finish(kind: string, format: string): void {
    const text = printf(format, this.pending?.kind === kind ? this.pending.args : []);
    this.pending = undefined;
    if (kind === 'E') this.errors.push(text);
    else if (kind === 'W') this.warnings.push(text);
    else {
      this.message = text;
      this.send();
    }
  }

  private send(): void {
    this.emit({ percent: this.percent, ...(this.message ? { message: this.message } : {}) });
  }
}

/** The %s / %d / %% subset of printf that debootstrap's messages use. */
export function printf(format: string, args: string[]): string {
  let next = 0;
  return format
    .replace(/%(%|[sd])/g, (_, spec: string) => (spec === '%' ? '%' : (args[next++] ?? '')))
    .replace(/\\n$/, '')
    .trim();
}
