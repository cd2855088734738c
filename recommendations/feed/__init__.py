"""The feed: the candidate pool (`pool`), the one scoring function (`scoring`, pure numpy,
which training and the offline evaluation call too) and the page with its reasons (`page`).
Nothing is imported here, so training can import `scoring` without the page's readers."""
