from ttom.cli import main

main()
