import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Names this run's databases (see `db.ts`). */
    testRunId: string;
  }
}
