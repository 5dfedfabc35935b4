/** One benchmark figure, printed next to its goal. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  goal?: string;
  /** Whether the goal is met; absent for figures without a goal. */
  ok?: boolean;
  detail?: string;
}

const format = (value: number) => (Number.isInteger(value) ? String(value) : value >= 100 ? value.toFixed(0) : value.toFixed(2));

/** Prints the figures as an aligned table, goals and verdicts included. */
export function printReport(result: { date: string; quick: boolean; cores: number; node: string; figures: Figure[] }): void {
  const rows = result.figures.map((f) => [f.name, `${format(f.value)} ${f.unit}`, f.goal ?? '', f.ok === undefined ? '' : f.ok ? 'met' : 'MISSED', f.detail ?? '']);
  const header = ['figure', 'value', 'goal', 'verdict', 'detail'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = process.stdout;
  out.write(`\nrelay-config-server benchmark${result.quick ? ' (--quick: smaller sizes)' : ''}: ${result.date}, ${result.cores} cores, Node ${result.node}\n\n`);
  out.write(`${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) out.write(`${line(row)}\n`);
}
