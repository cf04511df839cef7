// The page's script: see the serve contract.
