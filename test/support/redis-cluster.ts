/** The three-master cluster the tests start is the benchmark's (bench/redis-cluster.ts): one copy of that logic. */
export { startRedisCluster, type TestRedisCluster } from '../../bench/redis-cluster';
