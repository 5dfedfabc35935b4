import { FEATURE_DEFINITIONS, type FeatureName } from '../../options/features';
import { defineSection } from '../section';

const EXPOSABLE = FEATURE_DEFINITIONS.filter((f) => f.exposable).map((f) => f.name as FeatureName);

/** The exposable flags that are on, sorted as Relay stores them (a set); left out when none is on. */
export const featuresSection = defineSection({
  name: 'features',
  fields: ['features'],
  reads: { features: EXPOSABLE },
  restricted: true,
  build: ({ feature }) => {
    const features = EXPOSABLE.filter((name) => feature(name)).sort();
    return features.length > 0 ? { features } : {};
  },
});
