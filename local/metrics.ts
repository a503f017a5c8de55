// CloudWatch's extraction of embedded metric format (EMF) records from a function's log, as
// the local deployment does it for the edge function: each line the function writes to
// stdout that is an EMF record becomes one datum per metric and dimension set; a line that
// is not JSON, or has no `_aws` member, stays a plain log line.
//
// Validation follows "Specification: Embedded metric format"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// `_aws.Timestamp` a number (ms since the epoch), `_aws.CloudWatchMetrics` an array of
// directives, each with a `Namespace` string, `Dimensions` an array of arrays of at most 30
// dimension names (each a string member of the root), and `Metrics` an array of at most 100
// `{ Name, Unit? }` whose values are root members holding a number (or an array of up to 100
// numbers). CloudWatch extracts nothing from a record that breaks these rules (it counts it in
// the AWS/Logs EMFValidationErrors metric): here it lands in {@link LocalMetrics.invalid}.

/** One extracted datum: a metric, with one of its record's dimension sets. */
export interface LocalMetricDatum {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly unit?: string;
  readonly timestamp: number;
}

export class LocalMetrics {
  /** Every datum extracted so far, in order. */
  public readonly data: LocalMetricDatum[] = [];
  /** EMF records CloudWatch would reject, with why. */
  public readonly invalid: Array<{ readonly line: string; readonly problem: string }> = [];
  private readonly listeners: Array<(datum: LocalMetricDatum) => void> = [];

  /** Calls `listener` with each datum extracted from now on. */
  public onDatum(listener: (datum: LocalMetricDatum) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Reads one log line. Returns whether it was an EMF record (valid or not): a plain log
   * line returns false and is the caller's to print.
   */
  public ingest(line: string): boolean {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return false;
    }
    if (typeof record !== 'object' || record === null || !('_aws' in record)) return false;
    const problem = emfProblem(record as Record<string, unknown>);
    if (problem) {
      this.invalid.push({ line, problem });
      return true;
    }
    const root = record as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: Directive[] } };
    for (const directive of root._aws.CloudWatchMetrics) {
      for (const set of directive.Dimensions) {
        const dimensions = Object.fromEntries(set.map((name) => [name, root[name] as string]));
        for (const metric of directive.Metrics) {
          const raw = root[metric.Name] as number | number[];
          for (const value of Array.isArray(raw) ? raw : [raw]) {
            const datum: LocalMetricDatum = {
              namespace: directive.Namespace, metricName: metric.Name, dimensions, value, unit: metric.Unit, timestamp: root._aws.Timestamp,
            };
            this.data.push(datum);
            for (const l of this.listeners) l(datum);
          }
        }
      }
    }
    return true;
  }

  /**
   * Sum of a metric's values whose dimensions are exactly `dimensions` (CloudWatch keeps one
   * series per distinct dimension set).
   */
  public sum(metricName: string, dimensions: Readonly<Record<string, string>>): number {
    const want = JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)));
    return this.data
      .filter((d) => d.metricName === metricName && JSON.stringify(Object.entries(d.dimensions).sort(([a], [b]) => a.localeCompare(b))) === want)
      .reduce((total, d) => total + d.value, 0);
  }

  /** One line per series with its sum, e.g. `LinkRefusals Distribution=eu-west-1/Local/Downloads Reason=used: 2`. */
  public summary(): string[] {
    const totals = new Map<string, number>();
    for (const d of this.data) {
      const key = [d.metricName, ...Object.entries(d.dimensions).map(([k, v]) => `${k}=${v}`)].join(' ');
      totals.set(key, (totals.get(key) ?? 0) + d.value);
    }
    return [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([key, total]) => `${key}: ${total}`);
  }
}

interface Directive {
  readonly Namespace: string;
  readonly Dimensions: string[][];
  readonly Metrics: Array<{ readonly Name: string; readonly Unit?: string }>;
}

function emfProblem(root: Record<string, unknown>): string | undefined {
  const aws = root._aws as Record<string, unknown>;
  if (typeof aws !== 'object' || aws === null) return '_aws must be an object';
  if (typeof aws.Timestamp !== 'number') return '_aws.Timestamp must be a number';
  if (!Array.isArray(aws.CloudWatchMetrics)) return '_aws.CloudWatchMetrics must be an array';
  for (const d of aws.CloudWatchMetrics as Array<Record<string, unknown>>) {
    if (typeof d?.Namespace !== 'string' || d.Namespace.length === 0) return 'a directive needs a Namespace';
    if (!Array.isArray(d.Dimensions)) return 'Dimensions must be an array';
    for (const set of d.Dimensions as unknown[]) {
      if (!Array.isArray(set) || set.length > 30) return 'each dimension set must be an array of at most 30 names';
      for (const name of set) {
        if (typeof name !== 'string' || typeof root[name] !== 'string') return `dimension ${String(name)} must be a string member of the root`;
      }
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length > 100) return 'Metrics must be an array of at most 100';
    for (const m of d.Metrics as Array<Record<string, unknown>>) {
      if (typeof m?.Name !== 'string') return 'each metric needs a Name';
      const v = root[m.Name];
      const ok = typeof v === 'number' || (Array.isArray(v) && v.length <= 100 && v.every((x) => typeof x === 'number'));
      if (!ok) return `metric ${m.Name} must be a number member of the root`;
    }
  }
  return undefined;
}
