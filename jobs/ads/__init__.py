"""The ads domain: Facebook/Google spend, payments, installs and FX → spend_daily, campaign ROAS
and creative A/B tests. Transforms live in `jobs.ads.transforms`; each other module is one job."""
