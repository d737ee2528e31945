/**
 * The network part of `nsbox set NAME --net-rate 10mbit --net-ingress-rate 20mbit` (the core's
 * set command, `POST /boxes/{id}/set`): the new `network` section, judged and shaped live by
 * the plugin's update hook as any change is. 'none' removes a rate.
 */

import { type Box, type SetOptionContribution, z } from '@nsbox/core';

const REMOVE = new Set(['none', 'unlimited', 'max']);

export interface Rates {
  rate?: string | undefined;
  ingressRate?: string | undefined;
}

/** The box's network section with the given rates set ('none' removes one); null when nothing is left. */
export function withRates(box: Box, rates: Rates): Record<string, unknown> | null {
  const next: Record<string, unknown> = { ...(box.config.network as Record<string, unknown> | undefined) };
  for (const field of ['rate', 'ingressRate'] as const) {
    const value = rates[field];
    if (value === undefined) continue;
    if (REMOVE.has(value.toLowerCase())) delete next[field];
    else next[field] = value;
  }
  return Object.keys(next).length > 0 ? next : null;
}

export function ratesOf(box: Box): { rate: string; ingressRate: string } {
  const section = (box.config.network ?? {}) as Rates;
  return { rate: section.rate ?? 'none', ingressRate: section.ingressRate ?? 'none' };
}

export const networkSetPart: SetOptionContribution = {
  plugin: 'network',
  options: {
    netRate: { flags: '--net-rate <rate>', description: 'what the box may send: 10mbit, 500kbit, 2mbps (bytes); none: unshaped' },
    netIngressRate: { flags: '--net-ingress-rate <rate>', description: 'what the box may receive; none: unshaped' },
  },
  input: z.strictObject({ netRate: z.string().min(1).optional(), netIngressRate: z.string().min(1).optional() }),
  changes: (box, values) => ({
    network: withRates(box, { rate: values.netRate as string | undefined, ingressRate: values.netIngressRate as string | undefined }),
  }),
  report: (box) => ratesOf(box),
  render: (part) => {
    const rates = part as ReturnType<typeof ratesOf>;
    return `network: sends at ${rates.rate}, receives at ${rates.ingressRate}`;
  },
};
