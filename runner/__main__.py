from runner.console import main

main()
