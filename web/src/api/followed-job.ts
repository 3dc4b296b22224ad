import { useQuery } from '@tanstack/react-query';
import { FINAL_STATUSES } from '../format.ts';
import { useLive } from './live-events.ts';
import { useSession } from './session-context.tsx';

/**
 * A job started from a page (an export, a publish), followed to the end: live-events.ts patches
 * the cached `['job', id]` from the stream, so polling only runs while the stream is down.
 */
export function useFollowedJob(jobId: string | null) {
  const session = useSession();
  const live = useLive();
  return useQuery({
    queryKey: ['job', jobId],
    enabled: jobId !== null,
    queryFn: () => session.call((rm) => rm.jobs.get(jobId ?? '')),
    refetchInterval: (q) =>
      !live && q.state.data && !FINAL_STATUSES.has(q.state.data.status) ? 1000 : false,
  });
}
