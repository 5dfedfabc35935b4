import { runRole } from '../src/runtime';

/** Entry point of the `worker` role. */
void runRole('worker');
