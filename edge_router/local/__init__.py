"""Run the edge router on a laptop: the real handler behind a local CloudFront stand-in."""
