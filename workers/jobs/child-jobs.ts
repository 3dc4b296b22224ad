import { type Job, WaitingChildrenError } from 'bullmq';
import { baseJobOptions, type Producer } from '../../shared/queue/producer.ts';
import { JOBS, type JobName, type PayloadOf } from '../../shared/queue/queues.ts';

/** A child job a step hands out: any worker consuming its job name's queue may run it. */
export interface ChildJob<N extends JobName> {
  data: PayloadOf<N>;
  /** Deterministic per parent and unit, so handing the same unit out twice adds it once. */
  jobId: string;
}

/**
 * Lets a step fan its work out as BullMQ children of the running job (a flow built on an existing
 * parent). The parent leaves the worker in `waiting-children`, holding no slot and no lock; when
 * the last child finishes, BullMQ moves it back to wait and the runner runs it again: finished
 * steps are skipped, and the fanning step runs again and finds its children's work done.
 */
export interface ChildJobs {
  /** Whether this job has had children (in any state): a resumed parent does not fan out again. */
  started(): Promise<boolean>;
  /**
   * Adds the children and moves this job to waiting-children: throws WaitingChildrenError, which
   * the runner passes to BullMQ. Returns when every child had already finished (nothing to wait for).
   *
   * Children are added with `ignoreDependencyOnFailure`: a child that fails for good does not fail
   * the parent behind the runner's back (the job row would stay open); the parent resumes and does
   * that unit of work itself, under its own retry policy and error taxonomy.
   */
  waitFor<N extends JobName>(name: N, children: readonly ChildJob<N>[]): Promise<void>;
}

export function createChildJobs(producer: Producer, parent: Job, token: string): ChildJobs {
  return {
    async started() {
      const n = await parent.getDependenciesCount();
      return (n.processed ?? 0) + (n.unprocessed ?? 0) + (n.ignored ?? 0) + (n.failed ?? 0) > 0;
    },
    async waitFor(name, children) {
      if (children.length === 0) return;
      await producer.queue(JOBS[name].queue).addBulk(
        children.map((c) => ({
          name,
          data: c.data,
          opts: {
            ...baseJobOptions(name),
            jobId: c.jobId,
            // queueQualifiedName is `<bullPrefix>:<queue>`: under the `{bull}` hash tag, so parent
            // and children keys share one Redis Cluster slot and the flow scripts stay atomic.
            parent: { id: parent.id!, queue: parent.queueQualifiedName },
            ignoreDependencyOnFailure: true,
          },
        })),
      );
      if (await parent.moveToWaitingChildren(token)) throw new WaitingChildrenError();
    },
  };
}
