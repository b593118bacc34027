<main>
@flag('checkout')
    <p>new checkout</p>
@else
    <p>old checkout</p>
@endflag
@variant('checkout_copy', 'treatment')
    <p>copy: treatment</p>
@elsevariant('checkout_copy', 'control')
    <p>copy: control</p>
@else
    <p>copy: none</p>
@endvariant
@unlessflag('search')
    <p>no search</p>
@endflag
</main>
