"""What every houseprice command shares, and nothing else: typed errors, exit codes and the
one-line error, signals as exceptions, atomic files, process pools, the version. Standard
library only; used by every other folder, it imports none of them."""
