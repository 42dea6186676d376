from glmv_cli.app import main

main()
