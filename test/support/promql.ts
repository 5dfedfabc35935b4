/**
 * Just enough of a PromQL reader to say which series an expression selects: metric names with
 * their label matchers, and the labels of `by`/`without`/`on`/`ignoring`/`group_*` clauses.
 * Function and aggregation names, keywords, strings, numbers, durations and ranges (`[5m]`,
 * `[$__rate_interval]`, subqueries) are not series. An unknown function name is an error, so a
 * misspelt `rat(…)` is caught too.
 */

export interface Selector {
  name: string;
  /** Label names its matchers use. */
  labels: string[];
}

export interface ParsedPromql {
  selectors: Selector[];
  /** Labels named by grouping and matching clauses. */
  groupingLabels: string[];
}

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'count_over_time', 'day_of_month', 'day_of_week',
  'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_sum',
  'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time',
  'minute', 'month', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt',
  'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp', 'vector', 'year',
]);

const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parsePromql(expr: string): ParsedPromql {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`PromQL: ${what} at ${i} in: ${expr}`);
  };
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i])) i++;
  };
  const peekAfterSpace = () => {
    let j = i;
    while (j < expr.length && /\s/.test(expr[j])) j++;
    return j;
  };
  const skipString = () => {
    const quote = expr[i++];
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' ? 2 : 1;
    if (i >= expr.length) fail('unterminated string');
    i++;
  };
  /**
   * At the opening `{` or `(`: the label names of a list up to `close`, comma-separated; `afterName`
   * reads whatever follows a name inside an entry (a matcher's operator and value).
   */
  const labels = (close: '}' | ')', where: string, afterName: () => void = () => undefined): string[] => {
    i++;
    const names: string[] = [];
    for (;;) {
      skipSpace();
      if (expr[i] === close) {
        i++;
        return names;
      }
      const name = LABEL.exec(expr.slice(i))?.[0] ?? fail(`label name expected${where}`);
      names.push(name);
      i += name.length;
      skipSpace();
      afterName();
      if (expr[i] === ',') i++;
      else if (expr[i] !== close) fail(`"," or "${close}" expected`);
    }
  };
  /** At `{`: the label names of the matchers, up to the closing `}`. */
  const labelMatchers = () =>
    labels('}', '', () => {
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i))?.[0] ?? fail('label matcher operator expected');
      i += op.length;
      skipSpace();
      if (!['"', "'", '`'].includes(expr[i])) fail('label value (a string) expected');
      skipString();
      skipSpace();
    });
  /** At `(` after a grouping keyword: the label names up to `)`. */
  const labelList = () => labels(')', ' in a grouping list');

  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      skipString();
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '[') {
      // A range or subquery: durations and Grafana's $__rate_interval, never a series.
      const end = expr.indexOf(']', i);
      if (end < 0) fail('unterminated range');
      i = end + 1;
    } else if (c === '{') {
      selectors.push({ name: '', labels: labelMatchers() });
    } else if (/[0-9.]/.test(c)) {
      // A number, or a duration after `offset`.
      i += /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z]*/.exec(expr.slice(i))![0].length;
    } else if (IDENT.test(expr.slice(i))) {
      const word = IDENT.exec(expr.slice(i))![0];
      i += word.length;
      const lower = word.toLowerCase();
      const next = peekAfterSpace();
      if (GROUPING.has(lower)) {
        if (expr[next] === '(') {
          i = next;
          groupingLabels.push(...labelList());
        }
      } else if (AGGREGATIONS.has(lower) || KEYWORDS.has(lower)) {
        // not a series
      } else if (expr[next] === '(') {
        if (!FUNCTIONS.has(word)) fail(`unknown function "${word}"`);
      } else {
        let labels: string[] = [];
        if (expr[next] === '{') {
          i = next;
          labels = labelMatchers();
        }
        selectors.push({ name: word, labels });
      }
    } else {
      // Operators, parentheses, commas.
      i++;
    }
  }
  return { selectors, groupingLabels };
}
