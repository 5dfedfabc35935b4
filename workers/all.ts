import { runRole } from '../src/runtime';

/** Entry point of the `all` role: API and workers in one process, for a single machine. */
void runRole('all');
