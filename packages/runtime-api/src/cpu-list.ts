/** Kernel CPU and memory-node lists ('0-3,8,10-11'), as cpuset and /sys write them. */

/** The numbers in a list; throws on text that is not one. */
export function parseCpuList(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error("an empty list: name CPUs such as '0-1' or '0,2'");
  const found = new Set<number>();
  for (const part of trimmed.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new Error(`'${text}' is not a CPU list: use numbers and ranges such as '0-1' or '0,2-3'`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new Error(`'${part}' in '${text}' is a range that runs backwards`);
    if (last > 8191) throw new Error(`'${part}' in '${text}' names a CPU beyond 8191`);
    for (let cpu = first; cpu <= last; cpu++) found.add(cpu);
  }
  return [...found].sort((a, b) => a - b);
}

/** The shortest list text for a set of numbers: [0,1,2,5] → '0-2,5'. */
export function formatCpuList(numbers: readonly number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let index = 0; index < sorted.length; ) {
    let end = index;
    while (end + 1 < sorted.length && sorted[end + 1] === (sorted[end] as number) + 1) end++;
    parts.push(end === index ? `${sorted[index]}` : `${sorted[index]}-${sorted[end]}`);
    index = end + 1;
  }
  return parts.join(',');
}
