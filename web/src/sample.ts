import sample from '../../load/fixtures/render-short.json';
import type { Scene } from './api/rendermill.ts';

/** The editor starts with the repository's short sample (three scenes, 720p), as the README's curl walkthrough. */
export const SAMPLE_SCENES: Scene[] = sample.scenes;
