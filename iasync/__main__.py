from iasync.cli import main

main()
