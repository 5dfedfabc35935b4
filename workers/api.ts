import { runRole } from '../src/runtime';

/** Entry point of the `api` role. */
void runRole('api');
