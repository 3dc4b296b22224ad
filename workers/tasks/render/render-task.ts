import { type RenderRequest, renderRequestSchema } from '../../../shared/jobs/job-requests.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import { steps } from '../../jobs/step.ts';
import { composeStep } from './compose-step.ts';
import { sceneImagesStep } from './images-step.ts';
import { narrationStep } from './tts-step.ts';

/** render.run: narration → scene images → compose. */
export const renderJob: JobDefinition<RenderRequest> = {
  kind: 'render',
  request: renderRequestSchema,
  steps: steps<RenderRequest>().add(narrationStep).add(sceneImagesStep).add(composeStep).steps,
};
