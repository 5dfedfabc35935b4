/** Sums a Prometheus metric (all label sets, or those matching `labels`) in exposition text. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const lineLabels = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => lineLabels[k] === v)) total += Number(match[4]);
  }
  return total;
}

/** Fetches `/metrics` of a process and sums one metric. */
export async function scrape(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await fetch(new URL('/metrics', baseUrl));
  return sumMetric(await response.text(), name, labels);
}
