from agentops.cli import main

main()
