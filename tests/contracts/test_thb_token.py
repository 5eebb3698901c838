def test_mint_and_transfer__moves_exact_amounts(thb, deployer, accounts):
    amount = 200_000 * 10**18
    thb.mint(deployer, amount, sender=deployer)
    thb.transfer(accounts[1], amount // 4, sender=deployer)
    assert thb.balanceOf(accounts[1]) == amount // 4
    assert thb.balanceOf(deployer) == amount - amount // 4
    assert thb.decimals() == 18
