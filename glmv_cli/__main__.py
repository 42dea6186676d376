from glmv_cli.entry import main

main()
