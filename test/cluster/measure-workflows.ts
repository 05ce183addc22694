/** The workflow of measure-shards.ts: one workflow fanning out `count` activities, as a job does its chunks. */
import { proxyActivities } from '@temporalio/workflow';

const { step } = proxyActivities<{ step(index: number): Promise<number> }>({ startToCloseTimeout: '60s' });

export async function fanOut(count: number): Promise<number> {
  const results = await Promise.all(Array.from({ length: count }, (_, index) => step(index)));
  return results.length;
}
